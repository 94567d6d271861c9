"""Inputs and outputs: image and caption sources, image decoding, image shards, object stores, tables,
result files and run manifests."""
