"""TinierHAR scalability search with KerasTuner.

    python tuning/search.py --dataset uci_har --tuner grid --epochs 150 --folds 5

Thin wrapper of `keras-har tune`: flags in `keras_har.commands.tune`, logic in `keras_har.tuning.search`.
"""

import sys

from keras_har.commands.tune import main

if __name__ == "__main__":
    sys.exit(main())
