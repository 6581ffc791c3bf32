"""The one training loop and what it needs: state, optimisers, checkpoints, devices, logs."""
