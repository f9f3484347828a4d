"""The main job: run a net's LRN layers on reference blobs and compare, in float32 ULPs."""
