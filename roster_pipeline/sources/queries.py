"""The PowerQueries a PowerSchool pull runs: one paged query per roster file.

One query per table instead of one request per school or section (a district
of 20,000 sections would otherwise be 20,000 enrollment requests). Each column
is read as the roster-csv contract names it, so a page's records are written
as the contract's rows unchanged. The plugin (``plugin.py``) ships these
queries and requests ViewOnly access to every field they read: PowerSchool
refuses a query touching a field the plugin was not granted (HTTP 403).

Field names follow PowerSchool's data dictionary (tables Schools, Students,
Teachers, Sections, Courses, Terms, CC); verify them on a live server before a
release, as the reference notes say.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The queries' names are ``<QUERY_PREFIX><file>``; PowerSchool wants a dotted, owned name.
QUERY_PREFIX = "org.rosterpipeline.roster."


@dataclass(frozen=True)
class Query:
    """One roster file's PowerQuery."""

    file: str  # the roster-csv file it fills (schools, students, ...)
    columns: tuple[tuple[str, str], ...]  # (column of the file, TABLE.FIELD it is read from)
    sql: str
    reads: tuple[str, ...] = ()  # further TABLE.FIELDs the query touches (joins, filters)

    @property
    def name(self) -> str:
        return QUERY_PREFIX + self.file

    @property
    def fields(self) -> tuple[str, ...]:
        """Every TABLE.FIELD the query touches: its access request."""
        return tuple(dict.fromkeys([*(f for _, f in self.columns), *self.reads]))


_TODAY = "TRUNC(SYSDATE)"

QUERIES: tuple[Query, ...] = (
    Query(
        "schools",
        (("school_id", "SCHOOLS.SCHOOL_NUMBER"), ("school_name", "SCHOOLS.NAME")),
        "SELECT SCHOOLS.SCHOOL_NUMBER, SCHOOLS.NAME FROM SCHOOLS ORDER BY SCHOOLS.SCHOOL_NUMBER",
    ),
    Query(
        "students",
        (
            ("district_user_id", "STUDENTS.STUDENT_NUMBER"),
            ("first_name", "STUDENTS.FIRST_NAME"),
            ("last_name", "STUDENTS.LAST_NAME"),
            ("grade_level", "STUDENTS.GRADE_LEVEL"),
            ("school_id", "STUDENTS.SCHOOLID"),
        ),
        "SELECT STUDENTS.STUDENT_NUMBER, STUDENTS.FIRST_NAME, STUDENTS.LAST_NAME,"
        " STUDENTS.GRADE_LEVEL, STUDENTS.SCHOOLID FROM STUDENTS"
        " WHERE STUDENTS.ENROLL_STATUS = 0 ORDER BY STUDENTS.DCID",
        reads=("STUDENTS.ENROLL_STATUS", "STUDENTS.DCID"),
    ),
    Query(
        "teachers",
        (
            ("district_user_id", "TEACHERS.TEACHERNUMBER"),
            ("first_name", "TEACHERS.FIRST_NAME"),
            ("last_name", "TEACHERS.LAST_NAME"),
            ("email", "TEACHERS.EMAIL_ADDR"),
            ("school_id", "TEACHERS.SCHOOLID"),
        ),
        # One row per teacher: Teachers is a view joining Users (one per person: name,
        # e-mail, TeacherNumber, HomeSchoolID) to SchoolStaff (one per school the person
        # works at: ID, SchoolID, Status), so a teacher at two schools has two rows; the
        # home school's is the one sent. PowerSchool's own check of the home record
        # compares the same two fields ([Users]HomeSchoolID, [SchoolStaff]SchoolID, both
        # school numbers): ps-compliance.powerschool-docs.com/pssis-ca/latest/
        # primary-teacher-validation-obsolete; the view: ps.powerschool-docs.com/
        # pssis-data-dictionary/latest/teachers-ver7-8-0. Public exports filter alike.
        # Not sent: a teacher whose home school's record is inactive (Status 2) though
        # active at another school; their classes are rejected as naming no teacher.
        "SELECT TEACHERS.TEACHERNUMBER, TEACHERS.FIRST_NAME, TEACHERS.LAST_NAME,"
        " TEACHERS.EMAIL_ADDR, TEACHERS.SCHOOLID FROM TEACHERS WHERE TEACHERS.STATUS = 1"
        " AND TEACHERS.SCHOOLID = TEACHERS.HOMESCHOOLID ORDER BY TEACHERS.DCID",
        reads=("TEACHERS.STATUS", "TEACHERS.HOMESCHOOLID", "TEACHERS.DCID"),
    ),
    Query(
        "classes",
        (
            ("class_id", "SECTIONS.DCID"),
            ("class_name", "COURSES.COURSE_NAME"),
            ("school_id", "SECTIONS.SCHOOLID"),
            ("course_id", "SECTIONS.COURSE_NUMBER"),
            ("teacher_id", "TEACHERS.TEACHERNUMBER"),
        ),
        "SELECT SECTIONS.DCID, COURSES.COURSE_NAME || ' ' || SECTIONS.SECTION_NUMBER,"
        " SECTIONS.SCHOOLID, SECTIONS.COURSE_NUMBER, TEACHERS.TEACHERNUMBER FROM SECTIONS"
        " JOIN COURSES ON COURSES.COURSE_NUMBER = SECTIONS.COURSE_NUMBER"
        " JOIN TEACHERS ON TEACHERS.ID = SECTIONS.TEACHER"
        " JOIN TERMS ON TERMS.ID = SECTIONS.TERMID AND TERMS.SCHOOLID = SECTIONS.SCHOOLID"
        f" WHERE {_TODAY} BETWEEN TERMS.FIRSTDAY AND TERMS.LASTDAY ORDER BY SECTIONS.DCID",
        reads=(
            "SECTIONS.SECTION_NUMBER",
            "SECTIONS.TEACHER",
            "SECTIONS.TERMID",
            "TEACHERS.ID",
            "COURSES.COURSE_NUMBER",
            "TERMS.ID",
            "TERMS.SCHOOLID",
            "TERMS.FIRSTDAY",
            "TERMS.LASTDAY",
        ),
    ),
    Query(
        "enrollments",
        (("class_id", "SECTIONS.DCID"), ("student_id", "STUDENTS.STUDENT_NUMBER")),
        # Current enrollments only: a dropped one has a negative SectionID.
        "SELECT SECTIONS.DCID, STUDENTS.STUDENT_NUMBER FROM CC"
        " JOIN SECTIONS ON SECTIONS.ID = CC.SECTIONID JOIN STUDENTS ON STUDENTS.ID = CC.STUDENTID"
        f" WHERE CC.SECTIONID > 0 AND CC.DATEENROLLED <= {_TODAY} AND CC.DATELEFT > {_TODAY}"
        " ORDER BY CC.DCID",
        reads=(
            "CC.SECTIONID",
            "CC.STUDENTID",
            "CC.DATEENROLLED",
            "CC.DATELEFT",
            "CC.DCID",
            "SECTIONS.ID",
            "STUDENTS.ID",
        ),
    ),
)


def fields() -> tuple[str, ...]:
    """Every TABLE.FIELD any query touches, in a stable order: the plugin's access list."""
    return tuple(sorted({f for q in QUERIES for f in q.fields}))
