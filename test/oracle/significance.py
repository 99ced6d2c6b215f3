# statsmodels' McNemar and scipy's bootstrap on the tables and differences Hearth's tests send:
# the oracle for server/runs/significance.ts. Reads {"tables": [[b, c], ...], "diffs": [[...], ...]} on
# stdin and prints {"mcnemar": [p, ...], "bootstrap": [[low, high], ...]}.
import json
import sys

import numpy as np
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar

req = json.load(sys.stdin)
out = {"mcnemar": [], "bootstrap": []}
for b, c in req["tables"]:
    # rows: base pass / fail; columns: candidate pass / fail; only the discordant cells matter
    table = [[5, b], [c, 7]]
    out["mcnemar"].append(float(mcnemar(table, exact=True).pvalue))
for d in req["diffs"]:
    r = stats.bootstrap((np.array(d, dtype=float),), np.mean, n_resamples=10000, confidence_level=0.95, method="percentile", random_state=np.random.default_rng(0))
    out["bootstrap"].append([float(r.confidence_interval.low), float(r.confidence_interval.high)])
print(json.dumps(out))
