#!/bin/bash
# Runs wgpt's GPU checks and benchmarks on a bare Linux x86-64 machine with a GPU and no network,
# from the kit scripts/real-gpu/pack.mjs made (.gpu-kit/, copied along with the repository).
#
#   scripts/real-gpu/run.sh [OUTDIR]          (default $OUT, else /tmp/wgpt-gpu)
#   env: STEPS (pre-training steps, default 2000), BENCH_ARGS (extra `npm run bench` options for
#        the training benchmark), MATMUL_VARIANTS (see below),
#        PARTS (default "info first cases bench matmul pretrain")
#
# Writes to OUTDIR: cases.txt, first-step.jsonl, bench.json + bench.log (training benchmark),
# matmul.txt, pretrain.jsonl + sample.txt, and run.log (everything, with timings). Each part has a time
# limit, so one hung part cannot eat the rest. The NVIDIA Vulkan ICD is found where NVIDIA's
# container images put it, unless VK_ICD_FILENAMES is set.
set -u
cd "$(dirname "$0")/../.."
K=.gpu-kit
O=${1:-${OUT:-/tmp/wgpt-gpu}}
STEPS=${STEPS:-2000}
PARTS=${PARTS:-"info first cases bench matmul pretrain"}
# matmul: one table per variant, each a comma-separated list of `npm run bench` options
MATMUL_VARIANTS=${MATMUL_VARIANTS:-"--kernel,auto --kernel,tiled,--split-k,1 --kernel,shared"}
mkdir -p "$O"
exec > >(tee -a "$O/run.log") 2>&1
[ -d "$K/js" ] || { echo "no $K/js: run scripts/real-gpu/pack.mjs first"; exit 2; }

# Unpacked outside the kit (the kit stays small enough to travel): node, the bundles beside
# node_modules/webgpu with its dawn.node, and the corpus.
W=/tmp/wgpt-kit
rm -rf "$W"; mkdir -p "$W/bin"
xz -dc "$K/node.xz" > "$W/bin/node" && chmod +x "$W/bin/node"
cp -r "$K/js" "$K/node_modules" "$W/"
xz -d "$W/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
xz -dc "$K/sotu.txt.xz" > "$W/sotu.txt"
KIT=$K; K=$W
export PATH="$W/bin:$PATH"
# NVIDIA's Vulkan ICD (libGLX_nvidia) needs the Vulkan loader and libglvnd; bare images lack both.
if ! ldconfig -p | grep -q 'libvulkan.so.1 ' || ! ldconfig -p | grep -q 'libGLdispatch.so.0 '; then
  for f in "$KIT"/deb/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
if [ -z "${VK_ICD_FILENAMES:-}" ]; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$f" ] && { export VK_ICD_FILENAMES="$f"; break; }
  done
fi
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
done
echo "node $(node -v); VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-unset}; $(nvidia-smi -L 2>/dev/null | head -1)"
# The drivers' on-disk pipeline caches start empty (and "first" has its own), so the first
# first-step run is a cold one and the second a warm one.
export __GL_SHADER_DISK_CACHE_PATH="$W/nv-cache" MESA_SHADER_CACHE_DIR="$W/mesa-cache"
mkdir -p "$W/nv-cache" "$W/nv-first"

part() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  case " $PARTS " in *" $name "*) ;; *) return 0 ;; esac
  local t0=$SECONDS
  echo "=== $name (limit ${secs}s)"
  timeout -k 5 "$secs" "$@"
  echo "=== $name: exit $? after $((SECONDS - t0)) s"
}
part info 45 node $K/js/wgpt.mjs info --json
part first 90 env __GL_SHADER_DISK_CACHE_PATH="$W/nv-first" MESA_SHADER_CACHE_DIR="$W/mesa-first" sh -c "for i in cold warm; do node $K/js/train.mjs --first-step small | sed \"s/^{/{\\\"cache\\\":\\\"\$i\\\",/\"; done | tee '$O/first-step.jsonl'"
part cases 150 sh -c "node $K/js/cases.mjs > '$O/cases.txt'; r=\$?; grep -v '^ok ' '$O/cases.txt'; exit \$r"
part bench 200 sh -c "node $K/js/bench.mjs --json --only train --no-torch --no-first-step ${BENCH_ARGS:-} > '$O/bench.json' 2> '$O/bench.log'; r=\$?; tail -60 '$O/bench.log'; exit \$r"
part matmul 120 sh -c "for v in $MATMUL_VARIANTS; do echo \"--- matmul \$v\"; node $K/js/bench.mjs --only matmul --no-tfjs --reps 3 \$(echo \$v | tr , ' ') ; done | tee '$O/matmul.txt'"
part pretrain 150 sh -c "node $K/js/wgpt.mjs pretrain --corpus $K/sotu.txt --preset small --steps $STEPS --out $W/small.safetensors --json > '$O/pretrain.jsonl' && tail -3 '$O/pretrain.jsonl' && node $K/js/wgpt.mjs sample --from $W/small.safetensors --tokens 300 --seed 1 | tee '$O/sample.txt'"
echo "=== all done in $SECONDS s"
