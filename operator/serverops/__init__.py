"""serverops: Nova's server deletion contract for Kubernetes `Server` resources."""
