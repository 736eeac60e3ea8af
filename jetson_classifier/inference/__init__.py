"""
Inference: a model file in, labels out, with no ROS.

The catalog names the models and finds their files; model_info reads the labels and
preprocessing each ONNX file carries; preprocessing and postprocessing turn images into the
network's input and its output into ranked labels; class_groups merges classes into coarser
answers; backends/ runs the network (ONNX Runtime anywhere, TensorRT on a Jetson).
Classifier puts it all behind one object: `Classifier('lite0_int8').classify(image)`.
"""
