"""Shared fixtures: the Caffe reference data (copied into tests/data) loaded once."""
import json
import pathlib

import numpy as np
import pytest

DATA = pathlib.Path(__file__).parent / "data"
REFERENCE = DATA / "caffe-reference"
BVLC_NETS = DATA / "nets" / "bvlc"
EXAMPLES = pathlib.Path(__file__).parent.parent / "caffe_lrn" / "examples"


@pytest.fixture(scope="session")
def refs():
    """refs.npz as a dict: ``refs[case][field]`` (x, top, top_diff, bottom_diff, params)."""
    with np.load(REFERENCE / "refs.npz", allow_pickle=False) as z:
        names = [str(n) for n in z["case_names"]]
        return {name: {key.split("__", 1)[1]: z[key] for key in z.files
                       if key.startswith(name + "__")}
                for name in names}


@pytest.fixture(scope="session")
def cases():
    return json.loads((REFERENCE / "cases.json").read_text())


@pytest.fixture(scope="session")
def net_outputs():
    with np.load(REFERENCE / "prototxt" / "net_outputs.npz", allow_pickle=False) as z:
        return {key: z[key] for key in z.files}
