#!/usr/bin/env bash
# Hypotheses on several processes through torchrun (one per GPU; gloo on CPU):  tools/dist_hypotheses.sh CONFIG NUM_PROCS [args]
# The images are shared among the ranks; each writes OUT.parts/rank{r}.jsonl and rank 0 merges them into OUT.
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
DIR="$(cd "$(dirname "$0")" && pwd)"
PYTHONPATH="$DIR/..":$PYTHONPATH \
$PYTHON -m torch.distributed.run --nnodes=$NNODES --node_rank=$NODE_RANK --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS --master_port=$PORT "$DIR/gen_hypotheses.py" "$CONFIG" --launcher pytorch "${@:3}"
