"""``caffe-lrn convert``: a net's LRN layers to TF/PyTorch/ONNX conventions, and back.

    caffe-lrn convert NET --to tf|torch|onnx [-o OUT.json]      the conversion document
    caffe-lrn convert NET --to tf --emit python -o OUT.py         a TF module (Keras layer shim)
    caffe-lrn convert NET --to onnx --emit onnx -o OUT.onnx       an ONNX model of the LRN layers
    caffe-lrn convert SPEC.json --to caffe [-o OUT.prototxt]      the layers back as prototxt

Without ``-o`` the result goes to stdout. An existing output is never replaced without
``--force``. Losses found on the way (a float32 alpha that does not survive, an ignored k)
are printed on stderr as notes and recorded in the output.
"""
import json
import sys

from caffe_lrn.cli.exits import EXIT_OK, UsageError
from caffe_lrn.convert.document import build_document, layers_from_document
from caffe_lrn.convert.emit_prototxt import emit_prototxt
from caffe_lrn.convert.emit_python import emit_python
from caffe_lrn.convert.records import FRAMEWORKS
from caffe_lrn.frameworks.onnx import net_model
from caffe_lrn.io.files import check_output_path, read_json, write_bytes, write_text
from caffe_lrn.nets.loader import load_net
from caffe_lrn.nets.lrn_layers import lrn_layers

EMITS = ("json", "python", "onnx")
FORMS = ("native", "caffe-order")


def register(subparsers):
    parser = subparsers.add_parser(
        "convert", help="convert LRN layers to TF/PyTorch/ONNX conventions or back to Caffe",
        description="Convert a net's LRN layers to TensorFlow, PyTorch or ONNX conventions (a JSON "
        "document, or a standalone TF Python module), or a conversion document back to "
        "Caffe prototxt.")
    parser.add_argument("input", metavar="INPUT",
                        help="a Caffe net (prototxt or caffemodel); with --to caffe, a "
                             "conversion document (JSON)")
    parser.add_argument("--to", required=True, choices=FRAMEWORKS + ("caffe",),
                        help="target convention")
    parser.add_argument("--emit", choices=EMITS, default="json",
                        help="json: the conversion document (default); python: a "
                             "module of TF functions (--to tf only); onnx: an ONNX model "
                             "of the net's LRN layers, one input and output per layer named "
                             "after its blobs (--to onnx only, needs -o)")
    parser.add_argument("--form", choices=FORMS, default=None,
                        help="with --emit onnx: native (ONNX LRN nodes, default) or "
                             "caffe-order (Caffe's running window as a Scan, within 2 ULP "
                             "of Caffe); WITHIN_CHANNEL layers are a composite in both")
    parser.add_argument("-o", "--output", metavar="OUT", help="output file (default: stdout)")
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    parser.set_defaults(func=run)


def _write(args, text):
    if args.output:
        write_text(args.output, text, force=args.force, inputs=(args.input,))
    else:
        sys.stdout.write(text)


def _check_output_first(args):
    # Refuse before doing the work, so a refused overwrite costs nothing.
    if args.output:
        check_output_path(args.output, force=args.force, inputs=(args.input,))


def _warn(name, notes):
    for note in notes:
        print(f"caffe-lrn: note: layer {name!r}: {note}", file=sys.stderr)


def to_caffe(args):
    _check_output_first(args)
    records = layers_from_document(read_json(args.input, "JSON conversion document"),
                                   source=args.input)
    for record in records:
        if not record.exact:
            _warn(record.name, record.notes)
    header = [f"LRN layers converted back to Caffe by caffe-lrn from {args.input}"]
    _write(args, emit_prototxt(records, header=header))
    return EXIT_OK


def from_caffe(args):
    if args.emit == "python" and args.to != "tf":
        raise UsageError("--emit python writes TensorFlow code; use it with --to tf")
    if args.emit == "onnx" and (args.to != "onnx" or not args.output):
        raise UsageError("--emit onnx writes a binary ONNX model; use it with --to onnx "
                         "and -o OUT.onnx")
    if args.form is not None and args.emit != "onnx":
        raise UsageError("--form applies to --emit onnx")
    _check_output_first(args)
    layers = lrn_layers(load_net(args.input))
    if not layers:
        print(f"caffe-lrn: note: {args.input} has no LRN layers", file=sys.stderr)
    document = build_document(args.input, layers, args.to)
    for entry in document["layers"]:
        if not entry["exact"]:
            _warn(entry["name"], [note for note in entry["notes"]])
    if args.emit == "python":
        _write(args, emit_python(layers, source=args.input))
    elif args.emit == "onnx":
        model = net_model(layers, form=args.form or "native")
        write_bytes(args.output, model.SerializeToString(), force=args.force,
                    inputs=(args.input,))
    else:
        _write(args, json.dumps(document, indent=2) + "\n")
    return EXIT_OK


def run(args):
    if args.to == "caffe":
        if args.emit != "json":
            raise UsageError(f"--emit applies to --to {'|'.join(FRAMEWORKS)}")
        return to_caffe(args)
    return from_caffe(args)
