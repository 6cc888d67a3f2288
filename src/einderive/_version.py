"""The version, in a module of its own: every module may import it without importing the
package's ``__init__`` (which would make a cycle through the renderers)."""

__version__ = "0.1.0"
