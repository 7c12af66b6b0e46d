"""Tests of the wire codec, framing, protobuf converters and the bincode KIM layout."""
