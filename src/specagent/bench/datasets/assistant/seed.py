"""The assistant world's fixed data: the user's contacts, inbox, notes, files, calendar, and
the cities, places and restaurants the lookups know.

Everything here is written out by hand (no randomness), so a reader can check any episode's
expected answer by reading this file; the few derived values (forecasts, flights) come from
:mod:`.world` by a stable hash of their key. The user lives at 12 Elm Street, Boston, and
works at 200 Congress Street; today is Monday 1 June 2026.

First names are unique among contacts, so "text Maria" names one person.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CITIES",
    "CONTACTS",
    "CONDITIONS",
    "CONDITION_WORDS",
    "Contact",
    "EMAILS",
    "Email",
    "EVENTS",
    "EVENT_WORDS",
    "FILES",
    "NOTES",
    "PLACES",
    "RESTAURANTS",
    "Restaurant",
    "USER_HOME",
    "USER_WORK",
]


@dataclass(frozen=True)
class Contact:
    first: str
    last: str
    phone: str
    email: str
    address: str
    relation: str
    pronoun: str = "them"
    """How the user refers back to them ("text her that too")."""

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


CONTACTS: tuple[Contact, ...] = (
    Contact("Maria", "Lopez", "617-555-0142", "maria.lopez@example.com", "48 Beacon Street, Boston", "friend", "her"),
    Contact("Tom", "Becker", "617-555-0178", "tom.becker@example.com", "9 Putnam Avenue, Cambridge", "colleague", "him"),
    Contact("Priya", "Shah", "617-555-0115", "priya.shah@example.com", "310 Harvard Street, Brookline", "manager", "her"),
    Contact("Omar", "Haddad", "857-555-0163", "omar.haddad@example.com", "77 Broadway, Somerville", "friend", "him"),
    Contact("Lena", "Fischer", "617-555-0129", "lena.fischer@example.com", "15 Charles Street, Boston", "sister", "her"),
    Contact("Sam", "Carter", "617-555-0187", "sam.carter@example.com", "220 Main Street, Cambridge", "colleague", "them"),
    Contact("Alex", "Kim", "857-555-0104", "alex.kim@example.com", "5 Union Square, Somerville", "friend", "them"),
    Contact("Jordan", "Reyes", "617-555-0191", "jordan.reyes@example.com", "61 Tremont Street, Boston", "neighbor", "them"),
    Contact("Chris", "Walsh", "617-555-0136", "chris.walsh@example.com", "402 Newbury Street, Boston", "colleague", "him"),
    Contact("Nina", "Petrova", "857-555-0158", "nina.petrova@example.com", "18 Elm Street, Somerville", "friend", "her"),
    Contact("David", "Cohen", "617-555-0122", "david.cohen@example.com", "90 Commonwealth Avenue, Boston", "brother", "him"),
    Contact("Grace", "Liu", "617-555-0173", "grace.liu@example.com", "33 Kirkland Street, Cambridge", "dentist", "her"),
    Contact("Marcus", "Brown", "857-555-0149", "marcus.brown@example.com", "120 Washington Street, Brookline", "coach", "him"),
    Contact("Elena", "Rossi", "617-555-0166", "elena.rossi@example.com", "7 Hanover Street, Boston", "friend", "her"),
    Contact("Ben", "Okafor", "617-555-0110", "ben.okafor@example.com", "250 Summer Street, Boston", "colleague", "him"),
    Contact("Hana", "Sato", "857-555-0184", "hana.sato@example.com", "64 Highland Avenue, Somerville", "friend", "her"),
)  # fmt: skip

USER_HOME = "12 Elm Street, Boston"
USER_WORK = "200 Congress Street, Boston"

PLACES: dict[str, tuple[float, float]] = {
    # street addresses and landmarks around Boston, on a km grid (x east, y north)
    USER_HOME: (0.0, 0.0),
    USER_WORK: (1.6, -0.9),
    "Logan Airport": (4.2, 1.1),
    "South Station": (1.4, -1.3),
    "Fenway Park": (-2.6, -1.0),
    "Boston Common": (0.2, -0.4),
    "MIT": (-1.8, 1.2),
    "48 Beacon Street, Boston": (0.1, -0.2),
    "9 Putnam Avenue, Cambridge": (-2.9, 2.1),
    "310 Harvard Street, Brookline": (-5.1, -2.4),
    "77 Broadway, Somerville": (-1.2, 3.6),
    "15 Charles Street, Boston": (-0.3, 0.1),
    "220 Main Street, Cambridge": (-1.6, 1.4),
    "5 Union Square, Somerville": (-2.2, 3.0),
    "61 Tremont Street, Boston": (0.6, -0.2),
    "402 Newbury Street, Boston": (-2.0, -0.8),
    "18 Elm Street, Somerville": (-3.3, 4.4),
    "90 Commonwealth Avenue, Boston": (-0.8, -0.5),
    "33 Kirkland Street, Cambridge": (-2.6, 2.5),
    "120 Washington Street, Brookline": (-4.6, -3.0),
    "7 Hanover Street, Boston": (0.8, 0.3),
    "250 Summer Street, Boston": (2.0, -1.5),
    "64 Highland Avenue, Somerville": (-2.7, 3.8),
}
"""Known places and their position in km; cities are further away (see :data:`CITIES`)."""

CONDITIONS = ("sunny", "cloudy", "rainy", "windy", "foggy", "stormy", "humid")
CONDITION_WORDS: dict[str, tuple[str, ...]] = {
    # the words that state each condition in an answer
    "sunny": ("sunny", "sun", "sunshine"),
    "cloudy": ("cloudy", "clouds", "overcast"),
    "rainy": ("rainy", "rain", "raining", "showers"),
    "windy": ("windy", "wind"),
    "foggy": ("foggy", "fog"),
    "stormy": ("stormy", "storm", "storms", "thunderstorms", "thunderstorm"),
    "humid": ("humid", "humidity", "muggy"),
}

CITIES: dict[str, tuple[float, float, int]] = {
    # name: position in km from Boston (x east, y north), typical June high in C
    "Boston": (0.0, 0.0, 22),
    "New York": (-250.0, -210.0, 26),
    "Chicago": (-1370.0, -120.0, 25),
    "Denver": (-2840.0, -360.0, 27),
    "Seattle": (-3990.0, 380.0, 20),
    "San Francisco": (-4340.0, -790.0, 19),
    "Austin": (-2750.0, -1900.0, 33),
    "Miami": (-1320.0, -2280.0, 31),
    "Atlanta": (-1360.0, -1330.0, 30),
    "Philadelphia": (-390.0, -280.0, 27),
}

AIRLINES = ("UA", "DL", "AA", "B6", "WN", "AS")


@dataclass(frozen=True)
class Restaurant:
    name: str
    city: str
    cuisine: str
    rating: float
    price: str
    address: str


RESTAURANTS: tuple[Restaurant, ...] = (
    Restaurant("Giulia", "Boston", "italian", 4.7, "$$$", "1682 Massachusetts Avenue, Cambridge"),
    Restaurant("Trattoria Sole", "Boston", "italian", 4.3, "$$", "18 Hanover Street, Boston"),
    Restaurant("Oishii Sushi", "Boston", "japanese", 4.6, "$$$", "612 Tremont Street, Boston"),
    Restaurant("Taqueria Lupe", "Boston", "mexican", 4.4, "$", "90 Prospect Street, Cambridge"),
    Restaurant("Saffron House", "Boston", "indian", 4.5, "$$", "120 Boylston Street, Boston"),
    Restaurant("Harbor Oyster", "Boston", "seafood", 4.6, "$$$", "1 Atlantic Avenue, Boston"),
    Restaurant("Green Fork", "Boston", "vegan", 4.2, "$$", "44 Charles Street, Boston"),
    Restaurant("Bistro Laurent", "New York", "french", 4.6, "$$$", "210 West 10th Street, New York"),
    Restaurant("Nonna Rosa", "New York", "italian", 4.5, "$$", "75 Mulberry Street, New York"),
    Restaurant("Golden Lotus", "New York", "chinese", 4.3, "$$", "18 Mott Street, New York"),
    Restaurant("Smoke Yard", "Chicago", "steakhouse", 4.6, "$$$", "505 North State Street, Chicago"),
    Restaurant("Pequod Pie", "Chicago", "italian", 4.4, "$$", "2207 North Clybourn Avenue, Chicago"),
    Restaurant("Bangkok Garden", "Chicago", "thai", 4.5, "$$", "1140 West Belmont Avenue, Chicago"),
    Restaurant("Mile High Grill", "Denver", "steakhouse", 4.4, "$$$", "1600 Larimer Street, Denver"),
    Restaurant("Casa Verde", "Denver", "mexican", 4.6, "$$", "2730 Welton Street, Denver"),
    Restaurant("Pike Place Chowder", "Seattle", "seafood", 4.7, "$$", "1530 Post Alley, Seattle"),
    Restaurant("Sakura Tei", "Seattle", "japanese", 4.5, "$$$", "500 Pine Street, Seattle"),
    Restaurant("Bay Dim Sum", "San Francisco", "chinese", 4.6, "$$", "644 Jackson Street, San Francisco"),
    Restaurant("Olive and Thyme", "San Francisco", "greek", 4.4, "$$", "300 Valencia Street, San Francisco"),
    Restaurant("Lone Star Smokehouse", "Austin", "barbecue", 4.8, "$$", "900 East 11th Street, Austin"),
    Restaurant("Cafe Habana", "Miami", "cuban", 4.5, "$", "3555 SW 8th Street, Miami"),
    Restaurant("Peach Table", "Atlanta", "southern", 4.5, "$$", "1170 Howell Mill Road, Atlanta"),
    Restaurant("Liberty Noodle", "Philadelphia", "thai", 4.3, "$", "1001 Chestnut Street, Philadelphia"),
)  # fmt: skip


@dataclass(frozen=True)
class Email:
    sender: str
    """A contact's first name, or an outside address."""
    subject: str
    date: str
    body: str


EMAILS: tuple[Email, ...] = (
    Email("Priya", "Q3 budget review", "2026-05-29", "Can we review the Q3 budget on Thursday at 2pm? Bring the revised numbers."),
    Email("Tom", "Offsite venue", "2026-05-30", "The team offsite is booked at the Lakeside Inn in Concord on June 12."),
    Email("Grace", "Appointment reminder", "2026-05-31", "Your dental cleaning is on Wednesday June 10 at 9:30am."),
    Email("Lena", "Mom's birthday", "2026-05-28", "Mom's party is Saturday June 6 at 6pm at my place. Can you bring dessert?"),
    Email("bookings@skyways.example.com", "Your trip to Chicago", "2026-05-27", "Confirmation code KX7P2Q for your flight to Chicago on June 9."),
    Email("Sam", "Slides for Friday", "2026-05-31", "I uploaded the client deck; the demo is Friday at 11am in room 4B."),
    Email("Marcus", "Tennis this week", "2026-05-30", "Practice moved to Tuesday at 6:30pm at the Brookline courts."),
    Email("Omar", "Concert tickets", "2026-05-26", "Got us two tickets for Saturday June 13, doors open at 7pm. You owe me 45 dollars."),
    Email("billing@northgrid.example.com", "Electricity bill", "2026-05-25", "Your June bill of 84 dollars is due on June 15."),
    Email("Chris", "Code review", "2026-05-29", "Please review pull request 318 before the release on Wednesday."),
    Email("Elena", "Book club", "2026-05-24", "Next book club is at my place on Sunday June 7 at 4pm; we are reading Piranesi."),
    Email("Ben", "Parking at the office", "2026-05-31", "The garage on Purchase Street closes for repairs starting June 3; use level 2 of the Atlantic garage."),
)  # fmt: skip

NOTES: tuple[tuple[str, str], ...] = (
    ("Wifi", "Home wifi network ElmStreet5G, password bluefalcon42"),
    ("Packing list", "passport, charger, running shoes, rain jacket"),
    ("Gift ideas", "Lena: a ceramics class; David: noise-cancelling headphones"),
    ("Kickoff meeting", "Launch date moved to July 14; Sam owns the press release"),
    ("Garage code", "The garage door code is 4817"),
    ("Book list", "Piranesi, The Overstory, Project Hail Mary"),
    ("Car", "Oil change due at 52,000 miles; tire pressure 35 psi"),
    ("Recipes", "Lemon pasta: spaghetti, lemon, parmesan, butter, black pepper"),
)

FILES: tuple[tuple[str, str, int], ...] = (
    # name, last modified, size in KB
    ("Q3 budget.xlsx", "2026-05-28", 84),
    ("Offsite agenda.docx", "2026-05-30", 36),
    ("Client deck.pptx", "2026-05-31", 5120),
    ("Lease agreement.pdf", "2026-03-12", 410),
    ("Tax return 2025.pdf", "2026-04-10", 260),
    ("Vacation photos.zip", "2026-05-20", 248000),
    ("Project plan.docx", "2026-05-22", 58),
    ("Resume.pdf", "2026-02-02", 120),
    ("Recipes.docx", "2026-01-15", 44),
    ("Marathon training plan.pdf", "2026-05-05", 90),
)

EVENT_WORDS: dict[str, tuple[str, ...]] = {
    # the words that name each calendar event in an answer
    "Team stand-up": ("stand-up", "standup", "stand up"),
    "Design review": ("design review",),
    "Lunch with Omar": ("lunch",),
    "Tennis practice": ("tennis",),
    "Release planning": ("release planning", "release"),
    "One-on-one with Priya": ("one-on-one", "one on one", "1:1", "1-on-1", "priya"),
    "Q3 budget review": ("budget",),
    "Yoga class": ("yoga",),
    "Client demo": ("demo",),
    "Lunch with Maria": ("lunch",),
    "Farmers market": ("market",),
    "Mom's birthday party": ("birthday",),
    "Book club": ("book club",),
    "Flight to Chicago": ("flight", "chicago"),
    "Dental cleaning": ("dental", "dentist", "cleaning"),
    "Team offsite": ("offsite", "off-site"),
    "Concert with Omar": ("concert",),
}

EVENTS: tuple[tuple[str, str, str, int], ...] = (
    # date, start, title, minutes
    ("2026-06-01", "09:30", "Team stand-up", 30),
    ("2026-06-01", "14:00", "Design review", 60),
    ("2026-06-02", "09:30", "Team stand-up", 30),
    ("2026-06-02", "12:00", "Lunch with Omar", 60),
    ("2026-06-02", "18:30", "Tennis practice", 90),
    ("2026-06-03", "09:30", "Team stand-up", 30),
    ("2026-06-03", "10:00", "Release planning", 120),
    ("2026-06-03", "15:00", "One-on-one with Priya", 30),
    ("2026-06-04", "09:30", "Team stand-up", 30),
    ("2026-06-04", "14:00", "Q3 budget review", 60),
    ("2026-06-04", "16:30", "Yoga class", 60),
    ("2026-06-05", "09:30", "Team stand-up", 30),
    ("2026-06-05", "11:00", "Client demo", 60),
    ("2026-06-05", "13:00", "Lunch with Maria", 90),
    ("2026-06-06", "10:00", "Farmers market", 60),
    ("2026-06-06", "18:00", "Mom's birthday party", 180),
    ("2026-06-07", "16:00", "Book club", 120),
    ("2026-06-08", "09:30", "Team stand-up", 30),
    ("2026-06-09", "08:05", "Flight to Chicago", 150),
    ("2026-06-10", "09:30", "Dental cleaning", 60),
    ("2026-06-12", "09:00", "Team offsite", 480),
    ("2026-06-13", "19:00", "Concert with Omar", 180),
)
