"""Agreement oracle: reads {"cohen": [[a...], [b...]] | null, "fleiss": [[counts per category] per item] | null}
on stdin and prints scikit-learn's cohen_kappa_score and statsmodels' fleiss_kappa (method "fleiss") as JSON
(null where the library answers nan)."""
import json
import math
import sys
import warnings

import numpy as np
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

warnings.simplefilter("ignore")


def finite(value):
    value = float(value)
    return None if math.isnan(value) else value


out = []
for question in json.load(sys.stdin):
    answer = {}
    if question.get("cohen") is not None:
        a, b = question["cohen"]
        answer["cohen"] = finite(cohen_kappa_score(a, b))
    if question.get("fleiss") is not None:
        answer["fleiss"] = finite(fleiss_kappa(np.array(question["fleiss"]), method="fleiss"))
    out.append(answer)
print(json.dumps(out))
