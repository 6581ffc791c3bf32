"""The ground floor: what every other package may import, and which imports none of them.

state.py (TrainState), optim.py (optimisers from config.optim), devices.py (the device
mesh and shardings), dataset.py (DatasetInfo) and family.py (the Family contract and the
capability protocols evaluators ask for). Only `genjax.errors` is imported from here.
"""
