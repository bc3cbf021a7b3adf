"""Where labelled tracks come from: Label Studio exports, track names, manifests, splits."""
