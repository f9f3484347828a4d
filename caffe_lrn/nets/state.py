"""Which layers of a net exist in a given state: Caffe's ``include`` / ``exclude`` rules.

A Caffe net is built for one ``NetState`` (a phase, TRAIN or TEST; a level; a set of
stages), and each layer's ``include`` and ``exclude`` rules (``NetStateRule``) decide whether
the layer is in it, exactly as ``Net::FilterNet`` and ``Net::StateMeetsRule`` do:

- a rule is met when every field it sets holds: ``phase`` equals the state's phase,
  ``level >= min_level``, ``level <= max_level``, every ``stage`` is among the state's
  stages, and no ``not_stage`` is;
- a layer with no ``include`` rule is in the net unless it meets one of its ``exclude``
  rules; a layer with ``include`` rules is in the net only when it meets one of them;
- a layer may not carry both kinds (Caffe refuses: "Specify either include rules or exclude
  rules; not both").

So a net can hold a TRAIN and a TEST variant of a layer writing the same top, and only one
of them runs in a given phase.
"""
from dataclasses import dataclass

from caffe_lrn.errors import NetParseError, ParameterError
from caffe_lrn.schema import NetParameter, NetState

PHASES = ("TRAIN", "TEST")


@dataclass(frozen=True)
class State:
    """A net state: ``phase`` (``"TRAIN"`` or ``"TEST"``), ``level``, ``stages``."""

    phase: str = "TEST"
    level: int = 0
    stages: tuple = ()

    def __post_init__(self):
        if self.phase not in PHASES:
            raise ParameterError(f"phase must be TRAIN or TEST, got {self.phase!r}")

    def describe(self):
        extra = f", level {self.level}" if self.level else ""
        if self.stages:
            extra += ", stages " + ", ".join(self.stages)
        return self.phase + extra


def _phase_name(number):
    return NetState.DESCRIPTOR.fields_by_name["phase"].enum_type.values_by_number[number].name


def meets_rule(state, rule):
    """Caffe's ``StateMeetsRule``: does ``state`` meet the ``NetStateRule`` ``rule``?"""
    if rule.HasField("phase") and _phase_name(rule.phase) != state.phase:
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        return False
    if any(stage not in state.stages for stage in rule.stage):
        return False
    return not any(stage in state.stages for stage in rule.not_stage)


def layer_included(layer, state):
    """Caffe's ``FilterNet`` decision for one layer (a LayerParameter) in ``state``."""
    if len(layer.include) and len(layer.exclude):
        raise NetParseError(f"layer {layer.name!r} has both include and exclude rules; "
                            "Caffe allows either, not both")
    if len(layer.include):
        return any(meets_rule(state, rule) for rule in layer.include)
    return not any(meets_rule(state, rule) for rule in layer.exclude)


def filter_net(net, state=None):
    """``net`` (an upgraded NetParameter) with only the layers in ``state`` (default: TEST,
    level 0, no stages), as Caffe builds it: a copy when a layer has rules, else ``net``."""
    state = state or State()
    if not any(len(layer.include) or len(layer.exclude) for layer in net.layer):
        return net  # every layer is in every state: no copy of a large net
    filtered = NetParameter()
    filtered.CopyFrom(net)
    del filtered.layer[:]
    filtered.layer.extend(layer for layer in net.layer if layer_included(layer, state))
    return filtered


def describe_rules(layer):
    """The layer's include/exclude rules as short text (``"include phase: TEST"``), or ``""``."""
    parts = []
    for kind in ("include", "exclude"):
        for rule in getattr(layer, kind):
            fields = []
            if rule.HasField("phase"):
                fields.append(f"phase: {_phase_name(rule.phase)}")
            if rule.HasField("min_level"):
                fields.append(f"min_level: {rule.min_level}")
            if rule.HasField("max_level"):
                fields.append(f"max_level: {rule.max_level}")
            fields += [f"stage: {stage}" for stage in rule.stage]
            fields += [f"not_stage: {stage}" for stage in rule.not_stage]
            parts.append(f"{kind} {' '.join(fields) or '(always)'}")
    return "; ".join(parts)
