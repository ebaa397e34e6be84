"""Facts about the published checkpoints, taken once from the reference code (see
``make_reference_data.py``): key manifests and logits fixtures, and the seeded weights both use."""
