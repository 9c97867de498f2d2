import sys

from keras_har.cli import main

sys.exit(main())
