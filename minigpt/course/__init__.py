"""The course's own tooling, not the model: what the notebooks and their teachers use around ``minigpt``.

- ``settings``: the scale (fast "ci" or fuller "learner") and the seed every notebook starts from;
- ``show``: small matrices printed as tables a learner can read;
- ``exercises``: the automatic checks of the notebooks' exercises, each with its reference solution;
- ``trained``: a recipe's model trained once per machine and kept in the cache (notebooks 09 and 13 share one run);
- ``editions``: the solutions edition for teachers (nbgrader's source format), made from the learner notebooks.

The model, its training and sampling never import from here.
"""
