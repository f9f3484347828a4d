"""``caffe-lrn bench``: cases, timing, the peers timed beside the engine, and the report."""
