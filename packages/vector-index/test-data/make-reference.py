"""Reference neighbours for the exact-search tests, computed by scikit-learn and SciPy.

Run with Debian's Python: /usr/bin/python3 make-reference.py > reference-neighbours.json
Vectors are float32 values (written as the doubles they equal), so the TypeScript side stores
exactly the same numbers. Every query's k-th and (k+1)-th distances differ by more than 1e-4 so
float32 rounding cannot reorder the expected top k.
"""
import json

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors

N, D, Q, K = 200, 16, 12, 5
rng = np.random.default_rng(20261123)
centres = rng.normal(size=(4, D))
data = (centres[rng.integers(0, 4, size=N)] + 0.6 * rng.normal(size=(N, D))).astype(np.float32)
queries = (centres[rng.integers(0, 4, size=Q)] + 0.6 * rng.normal(size=(Q, D))).astype(np.float32)
X = data.astype(np.float64)
Y = queries.astype(np.float64)


def top(dist):
    order = np.argsort(dist, axis=1, kind="stable")
    rows = []
    for i in range(dist.shape[0]):
        d = dist[i, order[i]]
        assert d[K] - d[K - 1] > 1e-4, f"near tie at query {i}"
        rows.append({"ids": order[i, :K].tolist(), "distances": d[:K].tolist()})
    return rows


out = {"n": N, "dimension": D, "k": K, "data": X.tolist(), "queries": Y.tolist(), "expected": {}}

# l2: squared Euclidean, from scikit-learn's brute-force NearestNeighbors.
nn = NearestNeighbors(n_neighbors=K, algorithm="brute", metric="euclidean").fit(X)
dist, idx = nn.kneighbors(Y)
full = cdist(Y, X, "sqeuclidean")
ref = top(full)
assert all(r["ids"] == idx[i].tolist() for i, r in enumerate(ref))
out["expected"]["l2"] = ref

# cosine: 1 - cosine similarity, scikit-learn agrees with SciPy.
nn = NearestNeighbors(n_neighbors=K, algorithm="brute", metric="cosine").fit(X)
dist, idx = nn.kneighbors(Y)
ref = top(cdist(Y, X, "cosine"))
assert all(r["ids"] == idx[i].tolist() for i, r in enumerate(ref))
out["expected"]["cosine"] = ref

# ip: 1 - dot product (hnswlib's convention), from NumPy.
out["expected"]["ip"] = top(1.0 - Y @ X.T)

print(json.dumps(out))
