"""Run UnitMatch (unitmatchpy) on Kilosort-layout session folders, in the order of its
example notebook (waveform parameters, metric scores, naive Bayes, unique ids), and save
its output (MatchTable.csv among it) with its own save_to_output. Run with UnitMatch's
interpreter.

usage: python _unitmatch_run.py OUT_DIR KS_DIR [KS_DIR ...]
"""

import sys

import numpy as np
import UnitMatchPy.assign_unique_id as aid
import UnitMatchPy.bayes_functions as bf
import UnitMatchPy.default_params as default_params
import UnitMatchPy.overlord as ov
import UnitMatchPy.save_utils as su
import UnitMatchPy.utils as util


def main() -> None:
    save_dir, ks_dirs = sys.argv[1], sys.argv[2:]
    param = default_params.get_default_param()
    param["KS_dirs"] = ks_dirs
    wave_paths, label_paths, channel_pos = util.paths_from_KS(ks_dirs, param)
    param = util.get_probe_geometry(channel_pos[0], param)
    waveform, session_id, session_switch, within_session, good_units, param = (
        util.load_good_waveforms(wave_paths, label_paths, param, good_units_only=True)
    )
    clus_info = {
        "good_units": good_units,
        "session_switch": session_switch,
        "session_id": session_id,
        "original_ids": np.concatenate(good_units),
    }
    props = ov.extract_parameters(waveform, channel_pos, clus_info, param)
    total_score, candidate_pairs, scores_to_include, predictors = ov.extract_metric_scores(
        props, session_switch, within_session, param, niter=2
    )
    prior_match = 1 - (param["n_expected_matches"] / param["n_units"] ** 2)
    priors = np.array((prior_match, 1 - prior_match))
    labels = candidate_pairs.astype(int)
    cond = np.unique(labels)
    kernels = bf.get_parameter_kernels(scores_to_include, labels, cond, param, add_one=1)
    probability = bf.apply_naive_bayes(kernels, priors, predictors, param, cond)
    prob = probability[:, 1].reshape(param["n_units"], param["n_units"])
    threshold = np.zeros_like(prob)
    threshold[prob > param["match_threshold"]] = 1
    matches = np.argwhere(threshold == 1)
    uids = aid.assign_unique_id(prob, param, clus_info)
    su.save_to_output(
        save_dir,
        scores_to_include,
        matches,
        prob,
        props["avg_centroid"],
        props["avg_waveform"],
        props["avg_waveform_per_tp"],
        props["max_site"],
        total_score,
        threshold,
        clus_info,
        param,
        UIDs=uids,
        matches_curated=None,
        save_match_table=True,
    )


if __name__ == "__main__":
    main()
