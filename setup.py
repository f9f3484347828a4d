"""Build hook: compile proto/caffe.proto into caffe_lrn/_proto/caffe_pb2.py at install time.

The generated module is never committed; grpcio-tools (pinned in pyproject.toml's
build-system requires) is needed only while building, not at run time.
"""
import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "proto")
OUT_DIR = os.path.join(HERE, "caffe_lrn", "_proto")


def compile_proto():
    from grpc_tools import protoc  # build-time only

    proto = os.path.join(PROTO_DIR, "caffe.proto")
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["grpc_tools.protoc", f"-I{PROTO_DIR}", f"-I{well_known}",
            f"--python_out={OUT_DIR}", proto]
    code = protoc.main(args)
    if code != 0:
        sys.exit(f"error: grpc_tools.protoc failed with code {code} on {proto}")


class BuildPyWithProto(build_py):
    def run(self):
        compile_proto()
        super().run()


setup(cmdclass={"build_py": BuildPyWithProto})
