"""Caffe's arithmetic, bit for bit (math primitives, glibc's powf), and float32 ULP distances."""
