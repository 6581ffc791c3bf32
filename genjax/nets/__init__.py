"""flax.linen building blocks shared by the model families (no losses here)."""
