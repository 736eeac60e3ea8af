"""The user's catalog (<model dir>/user_models.yaml) read over the shipped one."""

import pytest
import yaml

from jetson_classifier.errors import CatalogError
from jetson_classifier.inference.catalog import Catalog


def write_user_catalog(model_dir, models):
    (model_dir / 'user_models.yaml').write_text(yaml.safe_dump({'models': models}))


def test_user_catalog_adds_entries_and_overrides_shipped_ones_by_name(tmp_path):
    write_user_catalog(tmp_path, {'parts': {'file': 'parts.onnx', 'base': 'lite0'},
                                  'lite1': {'file': '/opt/lite1_retrained.onnx'}})
    catalog = Catalog.load(model_dir=tmp_path)
    assert catalog.names[-1] == 'parts' and catalog.entry('parts').base == 'lite0'
    assert catalog.path_of(catalog.entry('parts')) == tmp_path / 'parts.onnx'
    assert catalog.entry('lite1').file == '/opt/lite1_retrained.onnx'
    assert catalog.entry('lite1').export is None
    assert catalog.entry('lite2').file == 'efficientnet_lite2_260.onnx'
    assert str(tmp_path / 'user_models.yaml') in catalog.source


def test_without_a_user_catalog_only_the_shipped_models_are_listed(tmp_path):
    catalog = Catalog.load(model_dir=tmp_path)
    assert len(catalog.names) == 10 and 'user_models' not in catalog.source


def test_malformed_user_catalog_error_names_the_file_and_the_model(tmp_path):
    write_user_catalog(tmp_path, {'parts': {'labels': 'parts.txt'}})
    with pytest.raises(CatalogError, match=r"user_models\.yaml: model 'parts' needs a \"file\""):
        Catalog.load(model_dir=tmp_path)
    (tmp_path / 'user_models.yaml').write_text('- just\n- a list\n')
    with pytest.raises(CatalogError, match=r'user_models\.yaml has no "models" mapping'):
        Catalog.load(model_dir=tmp_path)


def test_save_user_entry_keeps_other_user_entries_and_survives_a_reload(tmp_path):
    model_dir = tmp_path / 'models'
    catalog = Catalog.load(model_dir=model_dir)
    catalog.save_user_entry('first', {'file': 'first.onnx', 'notes': 'one'})
    catalog.save_user_entry('second', {'file': 'second.onnx', 'base': 'lite0_160'})
    catalog.save_user_entry('first', {'file': 'first.onnx', 'notes': 'replaced'})
    reloaded = Catalog.load(model_dir=model_dir)
    assert reloaded.names[-2:] == ['first', 'second']
    assert reloaded.entry('first').notes == 'replaced'
    assert reloaded.entry('second') == catalog.entry('second')
    assert 'lite0' in reloaded.names


def test_save_user_entry_refuses_unknown_keys_before_writing(tmp_path):
    catalog = Catalog.load(model_dir=tmp_path)
    with pytest.raises(CatalogError, match=r"model 'parts' has unknown keys \['accuracy'\]"):
        catalog.save_user_entry('parts', {'file': 'parts.onnx', 'accuracy': 0.9})
    assert not catalog.user_catalog_path.exists() and 'parts' not in catalog.names
