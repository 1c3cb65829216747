"""The commit processor: requests in, trees and commit facts out."""

from pachstream.commits._processor import CommitProcessor

__all__ = ["CommitProcessor"]
