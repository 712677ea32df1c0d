from tests.kube import crd_paths, kubectl, local_apiserver, threaded_apiserver

__all__ = ["crd_paths", "kubectl", "local_apiserver", "threaded_apiserver"]
