"""Client of the fine-tuned model inference API (api/openapi.json).

>>> from fmft_inference import InferenceClient
>>> client = InferenceClient("https://abcdef1234.execute-api.us-east-1.amazonaws.com/v1/", api_key="...")
>>> client.generate("serving", prompt="Summarize: ...")["text"]  # doctest: +SKIP
"""

from .client import InferenceClient, TokenStream, __version__
from .errors import ApiError, InferenceError, StreamError, TransportError
from .retry import RetryPolicy

__all__ = [
    "ApiError",
    "InferenceClient",
    "InferenceError",
    "RetryPolicy",
    "StreamError",
    "TokenStream",
    "TransportError",
    "__version__",
]
