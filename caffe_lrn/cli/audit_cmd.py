"""``caffe-lrn audit``: check a converted model's LRN operations against the Caffe net.

    caffe-lrn audit NET CONVERTED [--blobs REF] [--layer NAME ...] [--json]
                    [--fix -o FIXED [--form native|caffe-order] [--force]]

Exit 0 when every LRN layer has the same semantics in the converted model (with --fix: in
the repaired model), 1 when a rule fires, a layer is unmatched, or a model cannot be read, 2
on usage errors.
"""
import argparse
import sys

from caffe_lrn.audit.audit import audit_model
from caffe_lrn.audit.formats import read_converted
from caffe_lrn.audit.ops import ConvertedModel
from caffe_lrn.audit.read_onnx import find_lrn_ops
from caffe_lrn.audit.read_text import parse_ncnn
from caffe_lrn.audit.repair import check_repair_output, repair_ncnn, repair_onnx
from caffe_lrn.audit.report import SCHEMA, render_json, render_text
from caffe_lrn.cli.exits import EXIT_FAILURE, EXIT_OK, UsageError
from caffe_lrn.errors import ConvertedModelError
from caffe_lrn.frameworks.forms import FORMS, NATIVE
from caffe_lrn.io.files import write_bytes, write_text
from caffe_lrn.progress import Progress

DESCRIPTION = """\
Check the LRN operations of a model converted from a Caffe net (ONNX, TF SavedModel or
frozen GraphDef, TFLite, ncnn .param, OpenVINO IR .xml; the format is told by content)
against the net's LRN layers: pair them by name, then by order and shape; check each
operation's parameters against rules (window, alpha in the format's convention, beta,
bias vs k, WITHIN_CHANNEL made across-channel, k on a WITHIN_CHANNEL layer, layout); run
the converted operation in its own runtime and measure it against caffe-lrn's exact Caffe
output in float32 ULPs. The verdict tells wrong semantics from framework rounding
(bound: 64 float32 ULP).

Inputs for the numbers: each layer's bottom blob from --blobs REF (.npz or a directory of
.npy/.binaryproto, as for verify), else standard normal numbers scaled by sqrt(k / alpha)
so that the alpha term is as large as k.

--fix -o FIXED (ONNX, ncnn): write a repaired model: wrong LRN attributes rewritten; an
across-channel LRN standing for a WITHIN_CHANNEL layer replaced by the WITHIN composite;
with --form caffe-order, every across-channel LRN replaced by Caffe's running-window form.
ncnn: each wrong LRN line gets Caffe's region, local_size, alpha, beta and bias (k, or 1
within a channel). Everything else is kept byte for byte. The repaired model is checked
(onnx.checker for ONNX) and audited again; the exit code is that audit's."""


def register(subparsers):
    parser = subparsers.add_parser(
        "audit", help="check (and repair) a converted model's LRN layers against the Caffe net",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("net", metavar="NET", help="the Caffe net: .prototxt or .caffemodel")
    parser.add_argument("converted", metavar="CONVERTED",
                        help="the converted model: .onnx, SavedModel directory, frozen .pb, "
                             ".tflite, ncnn .param or OpenVINO .xml")
    parser.add_argument("--blobs", metavar="REF",
                        help="reference blobs whose LRN bottoms feed the numbers")
    parser.add_argument("--layer", action="append", metavar="NAME", dest="layers",
                        help="audit only this Caffe LRN layer (repeatable; default: all)")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON (schema caffe-lrn/audit/1)")
    parser.add_argument("--no-numbers", action="store_true",
                        help="check the rules only; do not run the converted operations")
    parser.add_argument("--fix", action="store_true",
                        help="write a repaired model to -o FIXED (ONNX, ncnn)")
    parser.add_argument("-o", "--output", metavar="FIXED", help="the repaired model (--fix)")
    parser.add_argument("--form", choices=FORMS, default=None,
                        help="with --fix: native keeps ONNX LRN nodes (default); "
                             "caffe-order replaces them by the running-window form")
    parser.add_argument("--force", action="store_true", help="overwrite FIXED if it exists")
    parser.set_defaults(func=run)
    return parser


def _progress(total, fmt):
    # Only runs that take a while: TF/TFLite start-up, or several layers. Drawn on a terminal.
    long_run = total >= 4 or fmt in ("tf", "tflite")
    return Progress(total, "audit", stream=sys.stderr, enabled=None if long_run else False)


def run(args):
    if args.fix and not args.output:
        raise UsageError("--fix needs -o FIXED: the repaired model is written to a new file")
    if args.output and not args.fix:
        raise UsageError("-o FIXED applies to --fix only")
    if args.form and not args.fix:
        raise UsageError("--form applies to --fix only")
    if args.force and not args.fix:
        raise UsageError("--force applies to --fix -o FIXED only")

    if args.fix:  # refuse before any work, and before a framework is needed
        check_repair_output(args.output, args.converted, args.force)
    converted = read_converted(args.converted)
    if args.fix and converted.fmt not in ("onnx", "ncnn"):
        raise ConvertedModelError(
            f"--fix repairs ONNX and ncnn models; {args.converted} is {converted.fmt}")
    if args.form and converted.fmt != "onnx":
        raise ConvertedModelError(f"--form applies to ONNX models; {args.converted} is "
                                  f"{converted.fmt}")
    options = dict(blobs=args.blobs, layers=args.layers, numbers=not args.no_numbers)
    report = audit_model(args.net, converted,
                         progress=_progress(len(converted.ops), converted.fmt), **options)
    if not args.fix:
        sys.stdout.write(render_json(report) if args.json else render_text(report))
        return EXIT_OK if report.clean else EXIT_FAILURE

    if converted.fmt == "ncnn":
        result = repair_ncnn(converted.source, report)
        write_text(args.output, result.model, force=args.force)
        repaired = parse_ncnn(result.model, args.output)
        written = f"written to {args.output}"
    else:
        result = repair_onnx(converted.source, report, form=args.form or NATIVE)
        write_bytes(args.output, result.model.SerializeToString(), force=args.force)
        repaired = ConvertedModel("onnx", args.output, find_lrn_ops(result.model)[0],
                                  source=result.model)
        written = f"written to {args.output} (passes onnx.checker)"
    result.output = args.output
    again = audit_model(args.net, repaired, progress=_progress(len(repaired.ops), repaired.fmt),
                        **options)
    if args.json:
        sys.stdout.write(render_json({"schema": SCHEMA, "audit": report.as_dict(),
                                      "repair": result.as_dict(),
                                      "repaired_audit": again.as_dict()}))
    else:
        sys.stdout.write(render_text(report))
        sys.stdout.write("\nrepair:\n")
        for line in result.changes or ["nothing to repair"]:
            sys.stdout.write(f"  {line}\n")
        for line in result.left:
            sys.stdout.write(f"  not repaired: {line}\n")
        sys.stdout.write(f"  {written}\n\n")
        sys.stdout.write(render_text(again))
    return EXIT_OK if again.clean else EXIT_FAILURE
