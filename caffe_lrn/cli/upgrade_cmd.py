"""``caffe-lrn upgrade OLD -o NEW [--force] [--binary]``: write a net in the current format.

Like Caffe's ``upgrade_net_proto_text`` (and, with ``--binary``, ``upgrade_net_proto_binary``):
V0/V1 layers become ``layer`` entries, deprecated inputs an ``Input`` layer. An existing NEW
is never overwritten without ``--force``.
"""
import sys

from google.protobuf import text_format

from caffe_lrn.cli.exits import EXIT_OK
from caffe_lrn.io.files import check_output_path, write_bytes, write_text
from caffe_lrn.nets.loader import read_net, upgrade_loaded
from caffe_lrn.nets.upgrade import needs_upgrade


def net_to_text(net):
    """The text form Caffe's WriteProtoToTextFile gives (fields in number order, floats as
    their shortest round-tripping decimals)."""
    return text_format.MessageToString(net)


def run(args):
    check_output_path(args.output, force=args.force, inputs=(args.old,))
    net, form = read_net(args.old)
    if not needs_upgrade(net):
        print(f"caffe-lrn: note: {args.old} is already in the current format; "
              "writing it unchanged", file=sys.stderr)
    for note in upgrade_loaded(net, args.old):
        print(f"caffe-lrn: warning: {note}", file=sys.stderr)
    if args.binary:
        write_bytes(args.output, net.SerializeToString(), force=args.force,
                    inputs=(args.old,))
    else:
        write_text(args.output, net_to_text(net), force=args.force, inputs=(args.old,))
    kind = "binary" if args.binary else "text"
    print(f"wrote {args.output} ({kind}, {len(net.layer)} layers) from {form} net {args.old}")
    return EXIT_OK


def register(subparsers):
    parser = subparsers.add_parser(
        "upgrade", help="rewrite a V0/V1 net in the current format",
        description="Upgrade a Caffe net (text or binary) to the current format as Caffe's "
                    "upgrade_net_proto_text does.")
    parser.add_argument("old", metavar="OLD", help="net file to upgrade")
    parser.add_argument("-o", "--output", required=True, metavar="NEW",
                        help="where to write the upgraded net")
    parser.add_argument("--force", action="store_true", help="overwrite NEW if it exists")
    parser.add_argument("--binary", action="store_true",
                        help="write a binary NetParameter (like upgrade_net_proto_binary)")
    parser.set_defaults(func=run)
    return parser
