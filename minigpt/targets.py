"""The target id that the loss skips: ``IGNORE_INDEX`` (-100, PyTorch's ``F.cross_entropy`` default).

A batch's targets hold it wherever there is nothing to predict: a prompt the model is given, padding, the
tokens a masked-LM batch leaves visible, the random first half of a copy task. The data that makes such
batches and the model's loss both import it from here, so neither imports the other.
"""

IGNORE_INDEX = -100
