#!/usr/bin/python3
"""Runs the reference ONNX checker (Debian's python3-onnx 1.12) on every .onnx file given or found
in the given folders: onnx.checker.check_model(full_check=True), which also runs ONNX shape
inference. Exits 1 if any model fails. Usage: /usr/bin/python3 scripts/check-onnx.py DIR_OR_FILE...
"""
import os
import sys

import onnx


def main(paths):
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".onnx"))
        else:
            files.append(path)
    if not files:
        print("check-onnx: no .onnx files given", file=sys.stderr)
        return 1
    failed = 0
    for f in files:
        try:
            model = onnx.load(f)
            onnx.checker.check_model(model, full_check=True)
            opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
            print(f"ok    {f} (ir {model.ir_version}, opset {opset[0] if opset else '?'}, onnx {onnx.__version__})")
        except Exception as e:  # noqa: BLE001 - report every failure, keep checking the rest
            failed += 1
            print(f"FAIL  {f}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
