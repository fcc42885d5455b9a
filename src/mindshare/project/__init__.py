"""A project of one's own, outside mindshare's repository: the packaged project files (`template`) and
`mindshare init` (`create`)."""
