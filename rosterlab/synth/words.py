"""Word lists the generator draws realistic values from (fictional people, towns and courses).

A few names carry accents or apostrophes on purpose: they make encoding damage (UTF-16, Latin-1)
visible and keep emails honest (emails use :func:`slug`).
"""

from __future__ import annotations

import unicodedata

FIRST_NAMES: tuple[str, ...] = (
    "Aaliyah", "Aaron", "Abigail", "Adrian", "Aiden", "Alejandro", "Alexis", "Alice", "Amara",
    "Amelia", "Ana", "André", "Andrew", "Angela", "Anthony", "Aria", "Ava", "Benjamin", "Brandon",
    "Brianna", "Caleb", "Camila", "Carlos", "Charlotte", "Chloé", "Christopher", "Daniel", "David",
    "Destiny", "Diego", "Dylan", "Elena", "Eli", "Elijah", "Elizabeth", "Emily", "Emma", "Ethan",
    "Evelyn", "Fatima", "Gabriel", "Gabriela", "Grace", "Hannah", "Harper", "Hiroshi", "Isaac",
    "Isabella", "Jack", "Jacob", "James", "Jasmine", "Jayden", "Jennifer", "Jessica", "Jonathan",
    "José", "Joseph", "Joshua", "Julia", "Kaitlyn", "Kevin", "Kiara", "Layla", "Leah", "Liam",
    "Lily", "Lucas", "Luis", "Madison", "Malik", "María", "Mason", "Mateo", "Maya", "Mei",
    "Mia", "Michael", "Mohammed", "Naomi", "Natalie", "Noah", "Nora", "Oliver", "Olivia", "Omar",
    "Priya", "Rachel", "Renée", "Riley", "Ryan", "Samantha", "Samuel", "Santiago", "Sarah",
    "Sebastian", "Sofia", "Sophia", "Tariq", "Thomas", "Tyler", "Valentina", "Victoria",
    "William", "Xavier", "Yusuf", "Zoe", "Zoë",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Adams", "Ahmed", "Allen", "Alvarez", "Anderson", "Baker", "Bennett", "Brooks", "Brown",
    "Campbell", "Carter", "Castillo", "Chen", "Clark", "Collins", "Cook", "Cruz", "Davis", "Diaz",
    "Dubois", "Edwards", "Evans", "Fernández", "Fisher", "Flores", "Foster", "García", "Gomez",
    "Gonzalez", "Gray", "Green", "Hall", "Harris", "Hernandez", "Hill", "Hughes", "Jackson",
    "James", "Jenkins", "Johnson", "Jones", "Kelly", "Khan", "Kim", "King", "Lee", "Lewis",
    "Lopez", "Martin", "Martinez", "Mendoza", "Miller", "Mitchell", "Moore", "Morales", "Morgan",
    "Murphy", "Nguyen", "Nelson", "O'Brien", "O'Connor", "Ortiz", "Parker", "Patel", "Perez",
    "Peterson", "Phillips", "Price", "Ramirez", "Reed", "Reyes", "Richardson", "Rivera",
    "Roberts", "Robinson", "Rodriguez", "Rogers", "Ross", "Russell", "Sanchez", "Santos",
    "Scott", "Shah", "Silva", "Singh", "Smith", "Stewart", "Sullivan", "Taylor", "Thomas",
    "Thompson", "Torres", "Tran", "Turner", "Walker", "Ward", "Watson", "White", "Williams",
    "Wilson", "Wood", "Wright", "Yamamoto", "Young", "Zhang",
)  # fmt: skip

STREETS: tuple[str, ...] = (
    "Main Street", "Elm Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Pine Road",
    "Birch Court", "Washington Street", "Lincoln Avenue", "Park Place", "Highland Avenue",
    "Pleasant Street", "School Street", "Church Street", "Summer Street", "Winter Street",
    "Central Avenue", "Mill Road", "River Road", "Hillside Terrace", "Orchard Way",
    "Prospect Street", "Chestnut Street", "Walnut Street", "Spring Street", "Forest Avenue",
)  # fmt: skip

# Fictional towns with real-looking Massachusetts zips (leading zeros on purpose).
TOWNS: tuple[tuple[str, str], ...] = (
    ("Maple Grove", "01742"), ("Cedar Falls", "01760"), ("North Hadley", "01035"),
    ("Westbrook", "02134"), ("Easton Mills", "02375"), ("Harbor Point", "02649"),
    ("Stony Brook", "01230"), ("Millbury Center", "01527"), ("Fairhaven Hills", "02719"),
    ("Ashfield Park", "01330"), ("Briar Glen", "02081"), ("Lakeview", "01085"),
)  # fmt: skip

STATE = "MA"
AREA_CODES: tuple[str, ...] = ("508", "617", "781", "978", "413")

SCHOOL_PLACES: tuple[str, ...] = (
    "Oak Hill", "Riverside", "Lincoln", "Jefferson", "Willow Creek", "Summit", "Lakeside",
    "Hawthorne", "Franklin", "Meadowbrook", "Eastwood", "Pine Ridge", "Bayview", "Kennedy",
    "Roosevelt", "Sunnyside", "Fairview", "Brookside", "Westfield", "Northgate",
)  # fmt: skip

# Grade bands of a school: (school-name suffix, the Grade values taught, course catalogue).
COURSES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "elementary": (
        ("Homeroom", "HR100", "homeroom/advisory"),
        ("Reading", "ELA100", "english/language arts"),
        ("Mathematics", "MA100", "math"),
        ("Science Exploration", "SC100", "science"),
        ("Social Studies", "SS100", "social studies"),
        ("Art", "AR100", "arts and music"),
        ("General Music", "MU100", "arts and music"),
        ("Physical Education", "PE100", "PE and health"),
    ),
    "middle": (
        ("Advisory", "HR600", "homeroom/advisory"),
        ("English 6-8", "ELA600", "english/language arts"),
        ("Math 7", "MA700", "math"),
        ("Pre-Algebra", "MA800", "math"),
        ("Life Science", "SC700", "science"),
        ("World History", "SS700", "social studies"),
        ("Spanish I", "LA700", "language"),
        ("Band", "MU700", "arts and music"),
        ("Health & Wellness", "PE700", "PE and health"),
        ("Computer Science Discoveries", "TE700", "technology and engineering"),
    ),
    "high": (
        ("English 9", "ELA900", "english/language arts"),
        ("American Literature", "ELA1100", "english/language arts"),
        ("Algebra I", "MA900", "math"),
        ("Geometry", "MA1000", "math"),
        ("AP Calculus AB", "MA1200", "math"),
        ("Biology", "SC900", "science"),
        ("Chemistry", "SC1000", "science"),
        ("U.S. History", "SS1000", "social studies"),
        ("Spanish II", "LA1000", "language"),
        ("French I", "LA900", "language"),
        ("Studio Art", "AR900", "arts and music"),
        ("Robotics & Engineering", "TE1000", "technology and engineering"),
        ("Credit Recovery Lab", "IN900", "interventions/online learning"),
    ),
}

BANDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("elementary", "Elementary School", ("Kindergarten", "1", "2", "3", "4", "5")),
    ("middle", "Middle School", ("6", "7", "8")),
    ("high", "High School", ("9", "10", "11", "12")),
)

HOME_LANGUAGES: tuple[tuple[str, int], ...] = (
    ("English", 70), ("Spanish", 15), ("Portuguese", 4), ("French", 3),
    ("Chinese", 3), ("Vietnamese", 3), ("Arabic", 2),
)  # fmt: skip

TEACHER_TITLES: tuple[tuple[str, int], ...] = (
    ("Teacher", 80), ("Special Education Teacher", 10), ("Department Chair", 6),
    ("Instructional Coach", 4),
)  # fmt: skip


def slug(name: str) -> str:
    """ASCII lower-case letters of a name (``O'Brien`` → ``obrien``, ``José`` → ``jose``)."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())
