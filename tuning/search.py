"""TinierHAR scalability search with KerasTuner.

    python tuning/search.py --dataset uci_har --tuner grid --epochs 150 --folds 5

Thin wrapper: the logic is in `keras_har.tuning.search` (also `keras-har tune`).
"""

import sys

from keras_har.tuning.search import main

if __name__ == "__main__":
    sys.exit(main())
