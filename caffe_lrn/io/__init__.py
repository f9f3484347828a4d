"""Files in and out: safe writes, bounded reads, reference dumps, and streaming of large blobs."""
