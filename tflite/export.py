"""Export a TinierHAR model to int8 TFLite for TensorFlow Lite Micro, with firmware files.

Thin wrapper of `keras-har export`: flags in `keras_har.commands.export`, logic in `keras_har.export`.

Examples:
    python tflite/export.py --train --dataset hapt --data-home /data/har --output out/
    python tflite/export.py --model trained.keras --dataset hapt --data-home /data/har --output out/ --qat
"""

import sys

from keras_har.commands.export import main

if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ValueError, FileNotFoundError) as error:
        print(f"tflite/export.py: error: {error}", file=sys.stderr)
        sys.exit(2)
