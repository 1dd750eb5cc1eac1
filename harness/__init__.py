"""balloon-harness: apply, build, boot and benchmark Linux virtio-balloon patch series."""
