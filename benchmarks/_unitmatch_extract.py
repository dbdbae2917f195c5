"""Run UnitMatch's own raw-waveform extractor on one Kilosort-layout session, as its demo
notebook does (get_sample_idx, then extract_a_unit per unit through joblib on all cores,
save_avg_waveforms). Run with UnitMatch's interpreter; prints the extraction time as JSON.

usage: python _unitmatch_extract.py SORTER_FOLDER RAW_FILE N_CHANNELS_FILE N_CHANNELS SPIKES
"""

import json
import sys
import time

import numpy as np
from joblib import Parallel, delayed
from UnitMatchPy import extract_raw_data as erd

folder, raw_file = sys.argv[1], sys.argv[2]
n_file, n_channels, sample_amount = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
spike_width = 82
half_width = spike_width // 2

t0 = time.perf_counter()
spike_times = np.load(f"{folder}/spike_times.npy").ravel()
spike_ids = np.load(f"{folder}/spike_clusters.npy").ravel()
units = np.unique(spike_ids)
data = np.memmap(raw_file, dtype="int16", mode="r").reshape(-1, n_file)
sample_idx = erd.get_sample_idx(spike_times, spike_ids, sample_amount, units=units)
avg = Parallel(n_jobs=-1, mmap_mode="r", max_nbytes=None)(
    delayed(erd.extract_a_unit)(
        sample_idx[u], data, half_width, spike_width, n_channels, sample_amount
    )
    for u in range(units.size)
)
avg = np.stack(avg)
erd.save_avg_waveforms(avg, folder, units, units, extract_good_units_only=False)
print(json.dumps({"seconds": time.perf_counter() - t0, "units": int(units.size)}))
