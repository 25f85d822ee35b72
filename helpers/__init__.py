"""Shared helpers of the machine-learning course.

The submodules are imported on demand so that a NumPy problem set does not
pay for importing torch:

- ``helpers.paths``: the data folder that every download is cached in;
- ``helpers.movielens``: MovieLens 100K ratings for ex10;
- ``helpers.plots``: figures shared by the problem sets;
- ``helpers.torch_utils``: device choice, seeding and data loaders (ex11, ex13);
- ``helpers.mnist``: MNIST files for ex13, with an offline subset.
"""

__version__ = "1.0.0"
