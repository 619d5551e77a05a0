"""TIES merge of 4 experts × ~250M parameters (fp32, tiny-Llama-shaped, built here) on the CPU:
Juxta (`juxta merge`) against `mergekit-yaml` and against a plain per-tensor torch loop, each in its
own process, in the same run. Prints wall time and peak RSS of each, the ratios Juxta / mergekit,
and the largest difference between Juxta's and mergekit's output tensors.

Targets (issue 10): wall time ≤ 0.25× mergekit's, peak RSS ≤ 0.5× mergekit's.

mergekit is never a Juxta dependency: it goes into its own venv, bench/.venv-mergekit, created here.
That venv sees Juxta's venv (a .pth file) for torch and the other shared packages, so both tools run
the same torch; pip installs only what mergekit needs beyond them, into bench/.venv-mergekit. When it
cannot be installed, the script says so and compares Juxta with the torch loop only.

    python bench/bench_merge.py [--hidden 1024 --layers 14 --vocab 32000] [--keep] [--skip-mergekit]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
MK_VENV = ROOT / "bench" / ".venv-mergekit"
EXPERTS = 4
DENSITY, WEIGHT = 0.2, 1.0


def build_models(folder: Path, hidden: int, layers: int, vocab: int) -> int:
    """Base + experts as HF folders (config.json + one safetensors file), written tensor by tensor."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from engine.kinds.merge.safetensors_io import ShardedWriter

    cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=int(hidden * 2.75) // 16 * 16,
                      num_hidden_layers=layers, num_attention_heads=hidden // 64, num_key_value_heads=hidden // 64,
                      max_position_embeddings=2048, tie_word_embeddings=False, architectures=["LlamaForCausalLM"])
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in LlamaForCausalLM(cfg).state_dict().items()}
    params = sum(torch.Size(s).numel() for s in shapes.values())
    for m in range(EXPERTS + 1):
        out = folder / ("base" if m == 0 else f"expert{m}")
        out.mkdir(parents=True)
        cfg.save_pretrained(out)
        writer = ShardedWriter(out, [(k, torch.float32, s) for k, s in shapes.items()], max_shard_bytes=10**12)
        for i, (name, shape) in enumerate(shapes.items()):
            t = torch.randn(shape, generator=torch.Generator().manual_seed(i)) * 0.02
            if m:
                t += torch.randn(shape, generator=torch.Generator().manual_seed(1000 * m + i)) * 0.002
            writer.write(name, t)
            del t
        writer.close()
    return params


def write_config(folder: Path) -> Path:
    lines = ["merge_method: ties", f"base_model: {folder / 'base'}", "models:"]
    for m in range(1, EXPERTS + 1):
        lines += [f"  - model: {folder / f'expert{m}'}", f"    parameters: {{weight: {WEIGHT}, density: {DENSITY}}}"]
    lines += ["parameters: {normalize: true}", "dtype: float32", ""]
    path = folder / "ties.yml"
    path.write_text("\n".join(lines))
    return path


def measure(cmd: list[str], env: dict | None = None) -> tuple[float, int, int, str]:
    """(wall seconds, peak RSS bytes, exit code, output tail) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    out = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - t0, usage.ru_maxrss * 1024, proc.returncode, out[-3000:]


TORCH_LOOP = textwrap.dedent("""
    import sys, torch
    from safetensors import safe_open
    from safetensors.torch import save_file
    folder, experts, density = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    files = [safe_open(f"{folder}/base/model.safetensors", "pt")] + [
        safe_open(f"{folder}/expert{m}/model.safetensors", "pt") for m in range(1, experts + 1)]
    out = {}
    for name in files[0].keys():
        base = files[0].get_tensor(name)
        deltas = []
        for f in files[1:]:
            d = f.get_tensor(name) - base
            k = int(density * d.numel())
            thr = d.abs().reshape(-1).kthvalue(d.numel() - k + 1).values
            deltas.append(d * (d.abs() >= thr))
        deltas = torch.stack(deltas)
        sign = torch.where(deltas.sum(0) >= 0, 1.0, -1.0)
        mask = deltas.sign() == sign
        out[name] = base + (deltas * mask).sum(0) / mask.sum(0).clamp(min=1)
    save_file(out, f"{folder}/loop.safetensors")
""")


def install_mergekit() -> str | None:
    """Path of mergekit-yaml in bench/.venv-mergekit, or None (the reason is printed)."""
    exe = MK_VENV / "bin" / "mergekit-yaml"
    if exe.exists():
        return str(exe)
    print(f"installing mergekit into {MK_VENV} …", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(MK_VENV)], check=True)
    site = next((MK_VENV / "lib").glob("python3*/site-packages"))
    juxta_site = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    (site / "juxta-shared.pth").write_text(juxta_site + "\n")  # torch & co. from Juxta's venv, read-only
    done = subprocess.run([str(MK_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "mergekit"],
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0 or not exe.exists():
        print("mergekit could not be installed here:\n" + (done.stderr or done.stdout)[-2000:])
        return None
    return str(exe)


def compare_outputs(a: Path, b: Path) -> tuple[float, int, int]:
    """(largest |a − b|, entries that differ by more than 1e-6, all entries) over every tensor.

    TIES outputs differ only where a magnitude ties exactly with the trim threshold: mergekit's argsort
    breaks such ties in no fixed order, Juxta in index order."""
    from engine.kinds.merge.model_files import ModelFiles

    ma, mb = ModelFiles(a), ModelFiles(b)
    worst, differ, total = 0.0, 0, 0
    for name in ma.names():
        gap = (ma.read(name) - mb.read(name).to(ma.entry(name)[0])).abs()
        worst = max(worst, float(gap.max()))
        differ += int(torch.count_nonzero(gap > 1e-6))
        total += gap.numel()
    return worst, differ, total


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--layers", type=int, default=14)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--keep", action="store_true", help="keep the models and outputs (printed folder)")
    p.add_argument("--skip-mergekit", action="store_true")
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="juxta-bench-merge-"))
    try:
        t0 = time.perf_counter()
        params = build_models(folder, args.hidden, args.layers, args.vocab)
        cfg = write_config(folder)
        print(f"built base + {EXPERTS} experts of {params / 1e6:.0f}M parameters (fp32, {params * 4 / 1e9:.2f} GB each) "
              f"in {time.perf_counter() - t0:.0f} s; TIES density {DENSITY}, weight {WEIGHT}", flush=True)
        results = {}
        juxta = [sys.executable, "-m", "app.cli", "merge", str(cfg), str(folder / "juxta"), "--quiet"]
        results["juxta"] = measure(juxta)
        mk = None if args.skip_mergekit else install_mergekit()
        if mk:
            results["mergekit"] = measure([mk, str(cfg), str(folder / "mergekit"), "--no-copy-tokenizer"])
        results["torch loop"] = measure([sys.executable, "-c", TORCH_LOOP, str(folder), str(EXPERTS), str(DENSITY)])
        for name, (wall, rss, code, out) in results.items():
            print(f"{name:>10}: {wall:7.1f} s  peak RSS {rss / 1e9:5.2f} GB" + ("" if code == 0 else f"  FAILED ({code})"))
            if code != 0:
                print(textwrap.indent(out, "    "))
        jw, jr = results["juxta"][:2]
        if mk and results["mergekit"][2] == 0:
            mw, mr = results["mergekit"][:2]
            print(f"Juxta / mergekit: wall {jw / mw:.2f}× (target ≤ 0.25), peak RSS {jr / mr:.2f}× (target ≤ 0.5)")
            worst, differ, total = compare_outputs(folder / "juxta", folder / "mergekit")
            print(f"largest |Juxta − mergekit| over all tensors: {worst:.2e}; {differ} of {total:,} entries differ by "
                  "more than 1e-6 (magnitudes tied at a trim threshold: mergekit breaks those ties in no fixed order)")
        else:
            print("mergekit not measured (see above); Juxta / torch loop: "
                  f"wall {jw / results['torch loop'][0]:.2f}×, peak RSS {jr / results['torch loop'][1]:.2f}×")
        print(json.dumps({k: {"wall_s": round(v[0], 2), "peak_rss_gb": round(v[1] / 1e9, 3), "exit": v[2]}
                          for k, v in results.items()}))
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
