"""Build hook: compile proto/caffe.proto into caffe_lrn/_proto/caffe.desc at build time.

The output is a serialized FileDescriptorSet that caffe_lrn/schema.py loads into a descriptor
pool of its own (see there why). It is never committed; grpcio-tools (in pyproject.toml's
build-system requires) is needed only while building, not at run time, and because no Python
code is generated the wheel does not depend on which grpcio-tools release built it.
"""
import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "proto")
OUT_FILE = os.path.join(HERE, "caffe_lrn", "_proto", "caffe.desc")


def compile_proto():
    from grpc_tools import protoc  # build-time only

    proto = os.path.join(PROTO_DIR, "caffe.proto")
    if not os.path.exists(proto):
        sys.exit(f"error: {proto} is missing; build from a full source tree or sdist")
    args = ["grpc_tools.protoc", f"-I{PROTO_DIR}", f"--descriptor_set_out={OUT_FILE}", proto]
    code = protoc.main(args)
    if code != 0:
        sys.exit(f"error: grpc_tools.protoc failed with code {code} on {proto}")


class BuildPyWithProto(build_py):
    def run(self):
        compile_proto()
        super().run()


setup(cmdclass={"build_py": BuildPyWithProto})
