"""Channel windows of each convention, and the refusal of windows Caffe cannot express.

Caffe's window is centred: ``(n-1)/2`` channels each side, so ``local_size`` must be odd.
For an even size the other conventions lean one way:

* PyTorch ``LocalResponseNorm``: pads ``size // 2`` channels in front and ``(size-1) // 2``
  behind, window ``c - size//2 .. c + (size-1)//2``;
* ONNX ``LRN``: window ``c - floor((size-1)/2) .. c + ceil((size-1)/2)``, the extra channel
  behind.
"""
from caffe_lrn.errors import ConversionError


def torch_window(size):
    """(channels in front, channels behind) that torch's LocalResponseNorm sums."""
    return size // 2, (size - 1) // 2


def onnx_window(size):
    """(channels in front, channels behind) that ONNX's LRN sums."""
    return (size - 1) // 2, size // 2


def refuse_even(framework, size):
    """Raise ConversionError for an even window, saying why and how each side pads."""
    if size % 2 == 1:
        return
    if framework == "torch":
        front, behind = torch_window(size)
        how = (f"torch.nn.LocalResponseNorm(size={size}) pads size//2 = {front} channels in "
               f"front and (size-1)//2 = {behind} behind (window c-{front}..c+{behind})")
    else:
        front, behind = onnx_window(size)
        how = (f"ONNX LRN(size={size}) sums channels c-floor((size-1)/2) .. "
               f"c+ceil((size-1)/2) = c-{front}..c+{behind}")
    raise ConversionError(
        f"cannot convert an even window (size {size}) to Caffe: Caffe only supports odd "
        f"local_size (LRN only supports odd values for local_size), its window is centred; "
        f"{how}. PyTorch puts the extra channel in front, ONNX behind")
