# A chain whose sweep shard is malformed (k must be below n): device-chains.sh --check refuses it.
export BITJIT_SWEEP_SHARD=4/4
step 100 sweep
