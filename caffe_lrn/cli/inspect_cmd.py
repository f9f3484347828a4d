"""``caffe-lrn inspect NET [--json]``: list a net's LRN layers with Caffe's values.

One row per LRN layer: name, bottom -> top, norm_region, local_size, alpha, beta, k (marked
"ignored" for WITHIN_CHANNEL, whose pipeline adds the constant 1 instead), engine, and the
layer's include/exclude rules (``include phase: TEST``; empty when it is in every phase,
see :mod:`caffe_lrn.nets.state`). alpha,
beta and k are printed as the shortest decimal that reads back as the same float32
(``0.0001``, not ``9.99999974738e-05``). ``--json`` prints a list of objects with exactly
the keys ``name, bottom, top, norm_region, local_size, alpha, beta, k, engine, rules``.

A binary net's weight blobs are never read: memory stays far below the file's size.
"""
import json

from caffe_lrn.cli.exits import EXIT_OK
from caffe_lrn.errors import NetParseError, ParameterError
from caffe_lrn.nets.loader import read_net_without_blobs, upgrade_loaded
from caffe_lrn.nets.lrn_layers import lrn_layers
from caffe_lrn.nets.state import describe_rules
from caffe_lrn.nets.upgrade import needs_upgrade, needs_v0_upgrade, needs_v1_upgrade
from caffe_lrn.numerics.shortest import float32_text
from caffe_lrn.tables import format_table

JSON_KEYS = ("name", "bottom", "top", "norm_region", "local_size", "alpha", "beta", "k",
             "engine", "rules")


def layer_record(info, rules=""):
    """One LRN layer as a JSON-ready dict (floats as their shortest float32 decimals);
    ``rules``: its include/exclude rules as text."""
    params = info.params
    return {
        "name": info.name,
        "bottom": info.bottom,
        "top": info.top,
        "norm_region": params.norm_region,
        "local_size": params.local_size,
        # float(shortest) is the float64 nearest that decimal; json prints it back as the
        # same short decimal, and it rounds to exactly the layer's float32 value.
        "alpha": float(float32_text(params.alpha)),
        "beta": float(float32_text(params.beta)),
        "k": float(float32_text(params.k)),
        "engine": params.engine,
        "rules": rules,
    }


def _vintage(net):
    if needs_v0_upgrade(net):
        return "V0, upgraded"
    if needs_v1_upgrade(net):
        return "V1, upgraded"
    if needs_upgrade(net):
        return "deprecated fields upgraded"
    return "current format"


TABLE_HEADER = ["name", "bottom -> top", "norm_region", "local_size", "alpha", "beta", "k",
                "engine", "rules"]


def run(args):
    # Only the layers are listed: a .caffemodel's weights are skipped, not loaded.
    net, form = read_net_without_blobs(args.net)
    vintage = _vintage(net)
    upgrade_loaded(net, args.net)
    try:
        layers = lrn_layers(net)
    except (NetParseError, ParameterError) as exc:
        # lrn_layers sees a message, not a file; say which file the bad layer is in.
        raise type(exc)(f"{args.net}: {exc}") from None
    rules = [describe_rules(net.layer[info.index]) for info in layers]
    if args.json:
        print(json.dumps([layer_record(info, rule) for info, rule in zip(layers, rules)],
                         indent=2))
        return EXIT_OK
    print(f"{args.net}: {form} net {net.name!r} ({vintage}), {len(net.layer)} layers, "
          f"{len(layers)} LRN")
    if not layers:
        print("no LRN layers in this net")
        return EXIT_OK
    rows = []
    for info, rule in zip(layers, rules):
        p = info.params
        k = float32_text(p.k) + (" (ignored)" if p.within else "")
        rows.append((info.name, f"{info.bottom} -> {info.top}", p.norm_region, p.local_size,
                     float32_text(p.alpha), float32_text(p.beta), k, p.engine, rule or "-"))
    for line in format_table(TABLE_HEADER, rows, rule=False):
        print(line)
    return EXIT_OK


def register(subparsers):
    parser = subparsers.add_parser(
        "inspect", help="list a net's LRN layers and their parameters",
        description="List the LRN layers of a Caffe net (prototxt or caffemodel; V0, V1 or "
                    "current format) with the values Caffe uses.")
    parser.add_argument("net", metavar="NET", help="net file (.prototxt or .caffemodel)")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list with keys " + ", ".join(JSON_KEYS))
    parser.set_defaults(func=run)
    return parser
