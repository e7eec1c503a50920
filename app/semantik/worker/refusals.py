"""What a parser raises for a file it will not read: a category and a reason, recorded on the failed
document while the operation around it goes on (parsing, office)."""


class ParseError(Exception):
    def __init__(self, category: str, message: str):
        super().__init__(message)
        self.category = category
