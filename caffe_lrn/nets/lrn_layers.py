"""The LRN layers of a loaded net.

``lrn_layers(net)`` lists every layer of type "LRN" in net order as an :class:`LRNLayerInfo`
whose ``lrn_param`` has every field set explicitly (unset fields take the schema's
defaults: local_size 5, alpha 1, beta 0.75, ACROSS_CHANNELS, k 1, DEFAULT engine).
"""
from dataclasses import dataclass

from caffe_lrn.errors import LayerNotFoundError, NetParseError, ParameterError
from caffe_lrn.params import LRNParams
from caffe_lrn.schema import LRNParameter

LRN_TYPE = "LRN"


@dataclass(frozen=True)
class LRNLayerInfo:
    """One LRN layer of a net.

    ``name``, ``bottom`` and ``top`` are Caffe's layer and blob names; ``lrn_param`` is the
    layer's ``LRNParameter`` with every default filled in; ``params`` the validated
    :class:`~caffe_lrn.params.LRNParams`; ``index`` the layer's position in ``net.layer``.
    """

    name: str
    bottom: str
    top: str
    lrn_param: LRNParameter
    params: LRNParams
    index: int


def lrn_layers(net):
    """The LRN layers of ``net`` (an upgraded NetParameter, see ``load_net``), in net order.

    Raises :class:`NetParseError` for an LRN layer without exactly one bottom and one top,
    and :class:`ParameterError` (naming the layer) for parameters Caffe refuses, such as an
    even local_size.
    """
    if len(net.layers) and not len(net.layer):
        raise NetParseError("net still uses the legacy 'layers' format; load it with "
                            "load_net (or upgrade it with caffe_lrn.nets.upgrade.upgrade_net)")
    found = []
    for index, layer in enumerate(net.layer):
        if layer.type != LRN_TYPE:
            continue
        label = layer.name or f"#{index}"
        if len(layer.bottom) != 1 or len(layer.top) != 1:
            raise NetParseError(
                f"LRN layer {label!r} must have exactly one bottom and one top, has "
                f"{len(layer.bottom)} bottom(s) {list(layer.bottom)} and {len(layer.top)} "
                f"top(s) {list(layer.top)}")
        try:
            params = LRNParams.from_proto(layer.lrn_param)
        except ParameterError as exc:
            raise ParameterError(f"LRN layer {label!r}: {exc}") from None
        lrn_param = params.to_proto()  # every field set: the schema's defaults made explicit
        found.append(LRNLayerInfo(name=layer.name, bottom=layer.bottom[0], top=layer.top[0],
                                  lrn_param=lrn_param, params=params, index=index))
    return found


def lrn_layer_named(infos, name):
    """The one LRN layer of ``infos`` called ``name``, or None when there is none.

    Two LRN layers with one name (Caffe allows it) cannot be told apart by name: a
    LayerNotFoundError names both instead of silently taking one.
    """
    found = [info for info in infos if info.name == name]
    if len(found) > 1:
        which = " and ".join(f"#{info.index} ({info.bottom!r} -> {info.top!r})"
                             for info in found)
        raise LayerNotFoundError(f"{len(found)} LRN layers are named {name!r}: layers "
                                 f"{which}; a name cannot choose between them")
    return found[0] if found else None
