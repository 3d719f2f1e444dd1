"""Reference values for the A/B result route (run: /usr/bin/python3 scripts/ab-reference.py).

Writes src/fixtures/ab-reference.json: a pooled two-proportion z-test (computed from SciPy's normal
distribution) and Welch's t-test (scipy.stats.ttest_ind, equal_var=False) on fixed data that
src/experiments.test.ts logs through the prediction log.
"""
import json
import math
import pathlib

from scipy import stats

control_clicks, control_n = 30, 200
treatment_clicks, treatment_n = 48, 200
p1, p2 = control_clicks / control_n, treatment_clicks / treatment_n
p = (control_clicks + treatment_clicks) / (control_n + treatment_n)
se = math.sqrt(p * (1 - p) * (1 / control_n + 1 / treatment_n))
z = (p2 - p1) / se
z_p = 2 * stats.norm.sf(abs(z))

control_values = [float(i % 5) for i in range(50)]
treatment_values = [float((i * 3) % 7) for i in range(60)]
t = stats.ttest_ind(treatment_values, control_values, equal_var=False)

out = {
    "proportions": {
        "control": {"clicks": control_clicks, "n": control_n},
        "treatment": {"clicks": treatment_clicks, "n": treatment_n},
        "z": z,
        "pValue": z_p,
        "difference": p2 - p1,
    },
    "means": {
        "control": control_values,
        "treatment": treatment_values,
        "t": float(t.statistic),
        "pValue": float(t.pvalue),
        "difference": sum(treatment_values) / len(treatment_values) - sum(control_values) / len(control_values),
    },
}
path = pathlib.Path(__file__).resolve().parent.parent / "src" / "fixtures" / "ab-reference.json"
path.write_text(json.dumps(out, indent=2) + "\n")
print(path)
