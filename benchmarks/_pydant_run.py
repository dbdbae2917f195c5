"""Run pyDANT (runDANT) on a data folder with its DEFAULT settings (docs/method.md §9).

    PYDANT_PYTHON _pydant_run.py DATA OUTPUT [--n-jobs N] [--settings-out FILE]

Run with the interpreter of the venv that has pyDANT installed (it is not a dependency of
this project). n_jobs defaults to -1, pyDANT's own default (every core, via joblib).
Multi-shank folders (channel_shanks.npy present) go through runDANTMultiShank.
"""

import argparse
import copy
import json
import os
import sys

DEFAULT_SETTINGS = {
    "path_to_data": ".",
    "output_folder": "./DANT_Output",
    "save_intermediate_results": True,
    "n_jobs": -1,
    "centering_waveforms": False,
    "spikeLocation": {"location_algorithm": "monopolar_triangulation", "n_nearest_channels": 20},
    "waveformCorrection": {
        "n_nearest_channels": 38,
        "linear_correction": False,
        "n_templates": 2,
        "path_to_motion": "",
    },
    "autoCorr": {"window": 300, "binwidth": 1, "gaussian_sigma": 5},
    "ISI": {"window": 100, "binwidth": 1, "gaussian_sigma": 1},
    "motionEstimation": {
        "features": [["AutoCorr", "PETH"], ["Waveform", "AutoCorr", "PETH"]],
        "max_iter": 15,
        "repeat_last_feature_set": True,
        "stop_early": True,
    },
    "clustering": {
        "max_distance": 100,
        "features": ["Waveform", "AutoCorr"],
        "n_iter": 10,
        "weight_tol": 1e-8,
    },
    "autoCuration": {"auto_split": True},
}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("output")
    p.add_argument("--n-jobs", type=int, default=-1)
    p.add_argument("--motion-features", help="JSON list of feature lists (default: pyDANT's)")
    p.add_argument("--features", help="JSON list: clustering.features (default: pyDANT's)")
    a = p.parse_args()
    settings = copy.deepcopy(DEFAULT_SETTINGS)
    settings["path_to_data"] = os.path.abspath(a.data)
    settings["output_folder"] = os.path.abspath(a.output)
    settings["n_jobs"] = a.n_jobs
    if a.motion_features:
        settings["motionEstimation"]["features"] = json.loads(a.motion_features)
    if a.features:
        settings["clustering"]["features"] = json.loads(a.features)
    os.makedirs(settings["output_folder"], exist_ok=True)
    with open(os.path.join(settings["output_folder"], "settings.json"), "w") as f:
        json.dump(settings, f, indent=2)

    from pyDANT.Runner import runDANT, runDANTMultiShank

    if os.path.isfile(os.path.join(a.data, "channel_shanks.npy")):
        import numpy as np

        if len(np.unique(np.load(os.path.join(a.data, "channel_shanks.npy")))) > 1:
            runDANTMultiShank(settings)
            return 0
    runDANT(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
